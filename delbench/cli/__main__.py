from delbench.cli import main

main()
