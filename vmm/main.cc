#include "vmm/cli.h"

int main(int argc, char** argv) {
  return heca::vmm::run_cli(argc, argv);
}
