from wasmforge.entry import main

main()
