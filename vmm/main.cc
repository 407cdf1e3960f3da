#include "vmm/cli.h"
#include "vmm/node/cluster_cli.h"

int main(int argc, char** argv) {
  return heca::vmm::run_cli(argc, argv, heca::vmm::node::run_commands());
}
