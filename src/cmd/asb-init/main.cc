// asb-init: sandbox setup in a fresh single-threaded process (see init/init.h).
#include "init/init.h"

int main(int argc, char** argv) { return asb::init::InitMain(argc, argv); }
