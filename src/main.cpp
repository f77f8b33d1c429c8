#include "mtlsd/cli/cli.hpp"

int main(int argc, char** argv) { return mtlsd::cli::main(argc, argv); }
