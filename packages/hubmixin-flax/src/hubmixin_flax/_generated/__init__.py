"""Generated code of hubmixin_flax: do not edit."""
