"""``python -m bstorm_cli`` runs the bstorm command line."""

from bstorm_cli.main import main

if __name__ == '__main__':
    main()
