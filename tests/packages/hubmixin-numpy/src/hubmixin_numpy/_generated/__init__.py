# DO NOT EDIT: generated from hubmixin_core/params.py (spec version 1) and hubmixin_numpy/_extras.py
# by `python -m codegen`. Change either, then run `python -m codegen` from the repository root.
"""Generated code of hubmixin_numpy: do not edit."""
