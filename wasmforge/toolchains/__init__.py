"""Pinned, reproducible toolchain images (``toolchains/<name>/`` recipes) and their lock file.

``images.ensure_image`` is what builds call; ``recipe`` reads the recipes, ``tagging`` names images
by content, ``base`` obtains the pinned Debian base, ``builder`` builds an image, ``verify`` checks
one, ``lock`` records what was built.
"""
