"""python -m alpana_hooks"""

from alpana_hooks.cli import main

main()
