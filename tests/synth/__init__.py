"""Writers of synthetic dumps for parser tests, independent of core/'s own structures."""
