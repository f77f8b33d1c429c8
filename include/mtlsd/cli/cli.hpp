#pragma once
// The command line: `mtlsd run|check|version`. Returns the process exit code.

namespace mtlsd::cli {

int main(int argc, char** argv);

}  // namespace mtlsd::cli
