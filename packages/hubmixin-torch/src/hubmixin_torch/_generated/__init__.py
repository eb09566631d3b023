"""Generated code of hubmixin_torch: do not edit."""
