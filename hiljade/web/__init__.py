"""The web face: the public camera map, the reviewers' desk and accounts, over the services."""
