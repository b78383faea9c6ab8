# A package (as are its server folders), so that pytest puts tests/unit, not this folder, on sys.path: a folder
# named triton on sys.path would pass for OpenAI's triton package, and torch and transformers would import it.
