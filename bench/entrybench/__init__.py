"""Bench-only Django pieces for bench/entry_window.py: never installed, never in the product.

`entrybench.settings` is the production settings module with a URLconf that adds one yardstick
(a trivial view) next to the real site.
"""
