"""Tools the model can call during a call (docs/tools.md): the interface, a registry per persona,
and the built-ins (transfer, hangup, lookup, knowledge_base)."""
