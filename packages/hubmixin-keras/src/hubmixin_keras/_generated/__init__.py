"""Generated code of hubmixin_keras: do not edit."""
