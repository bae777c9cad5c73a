"""python -m paii_cli"""
from paii_cli import main

main()
