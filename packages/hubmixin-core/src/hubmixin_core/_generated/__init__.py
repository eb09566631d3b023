# DO NOT EDIT: generated from hubmixin_core/params.py (spec version 1) by `python -m codegen`.
# Change the spec, then run `python -m codegen` from the repository root.
"""Generated code of hubmixin_core: do not edit."""
