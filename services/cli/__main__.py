from newsflow_cli.main import cli

cli()
