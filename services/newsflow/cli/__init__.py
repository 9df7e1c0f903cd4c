"""The `newsflow` command: one sub-command per service plus the operators' tools."""
