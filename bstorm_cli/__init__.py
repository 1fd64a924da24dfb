"""bstorm: train, evaluate and inspect brainstorm networks from YAML experiment files."""
