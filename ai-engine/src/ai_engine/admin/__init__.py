"""Operator tools behind the `ai-agent` command: `doctor` (is this host set up right?) and
`test-call` (place a call through Asterisk and measure it). They use the engine's own settings
and talk to Asterisk like the engine does, under an ARI app name of their own
(`<ari.app>-doctor`), so they never take the engine's app over (FACT 40)."""
