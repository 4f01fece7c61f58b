from smallagent.cli import main

main()
