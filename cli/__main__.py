from trialeval.cli import main

main()
