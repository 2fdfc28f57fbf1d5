from wasmforge.cli import main

main()
