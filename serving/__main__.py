from serving.model_server import main

main()
