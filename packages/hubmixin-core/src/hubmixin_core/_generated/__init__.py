"""Generated code of hubmixin_core: do not edit."""
