"""drid's built-in plugins, one module per family; each is declared in the ``drid`` entry-point
group of drid's own pyproject.toml, the same path third-party plugins take."""
