"""Generated code of hubmixin_numpy: do not edit."""
