"""The executable's Go facts: build info, pclntab, moduledata, DWARF, runtime type descriptors, layouts and version facts."""
