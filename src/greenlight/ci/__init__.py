"""What the workflows need beyond the pipeline: `greenlight ci check-ref` (a dispatched deploy
builds only commits on main), `greenlight ci check-image` (a rollback names a digest built
before), `greenlight ci config` (which optional settings a team has configured, with a notice of
what to configure for each one that is not) and `greenlight pr-comment` (the sticky report
comment). Every one of them is a tested command, so the YAML stays a list of calls."""
