"""The dedup worker's logic: exact duplicates, near duplicates (syndicated copies, reprints,
truncations, light edits) and story clusters, with all state in injected mappings."""
