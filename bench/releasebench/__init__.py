"""Bench-only Django pieces for bench/release_hour.py: never installed, never in the product.

`releasebench.settings` is the production settings module plus a URLconf that adds two
yardstick views (a trivial view and a naive "my latest scores") next to the real site.
"""
