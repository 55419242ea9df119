// asbctl: kubectl-like CLI for asbd. Everything lives in src/cli (verb table in cli.cc).
#include "cli/cli.h"

int main(int argc, char** argv) { return asb::cli::Main(argc, argv); }
