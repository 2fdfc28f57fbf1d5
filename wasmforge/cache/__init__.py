"""The build cache: action results by content, in a local store and in any OCI registry.

``key`` says what an action's result depends on, ``record`` what a result is, ``store`` keeps results
on this machine, ``remote`` shares them through a registry, ``stamp`` remembers the last build so
that a rebuild with nothing changed is answered without any of the rest. docs/cache.md tells users.
"""
