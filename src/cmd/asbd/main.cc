// asbd: the embedded agent-sandbox daemon. Thin: flags -> DaemonConfig -> RunServe (app.h).
#include <CLI/CLI.hpp>
#include <cstdio>

#include "base/log.h"
#include "client/kubeconfig.h"
#include "cmd/asbd/app.h"
#include "cmd/asbd/config.h"
#include "cmd/asbd/controller_role.h"
#include "cmd/asbd/deploy_commands.h"
#include "cmd/asbd/node_role.h"
#include "cmd/asbd/router_role.h"

#ifndef ASB_VERSION
#define ASB_VERSION "0.1.0"
#endif

int main(int argc, char** argv) {
  CLI::App app{"asbd: Kubernetes-compatible agent sandbox daemon"};
  app.set_version_flag("--version", std::string("asbd ") + ASB_VERSION);
  std::string level = "info";
  app.add_option("--v,--log-level", level, "log level: debug, info, warn, error");
  app.require_subcommand(1);

  asb::asbd::DaemonConfig config;
  config.state_dir = asb::client::DefaultStateDir();
  CLI::App* serve = app.add_subcommand(
      "serve", "run everything: API server, controllers, node agent (sandboxes) and router");
  std::string config_file;
  bool print_config = false;
  serve->add_option("--config", config_file, "JSON config file (see configs/asbd.json)");
  serve->add_flag("--print-config", print_config, "print the effective config as JSON and exit");
  serve->add_option("--state-dir", config.state_dir, "state directory")->capture_default_str();
  serve->add_option("--api-listen", config.api_listen, "API server address host:port")
      ->capture_default_str();
  serve->add_option("--router-listen", config.router_listen, "router address host:port")
      ->capture_default_str();
  serve
      ->add_option("--max-request-bytes", config.max_request_bytes,
                   "largest accepted API request body (413 above)")
      ->capture_default_str();

  serve
      ->add_option("--max-volume-bytes", config.max_volume_bytes,
                   "largest PersistentVolumeClaim the local provisioner makes")
      ->capture_default_str();
  serve->add_option("--node-name", config.node_name, "name of this node")->capture_default_str();
  serve->add_option("--gvisor", config.gvisor, "gVisor runtime class: auto, on, off")
      ->capture_default_str();
  serve->add_option("--runsc", config.runsc_path, "runsc binary")->capture_default_str();
  serve
      ->add_option("--default-runtime-class", config.default_runtime_class,
                   "runtime for pods without runtimeClassName: native or gvisor")
      ->capture_default_str();
  serve
      ->add_option("--pod-network", config.pod_network,
                   "bridge (each sandbox gets an address from --pod-cidr) or none (only lo)")
      ->capture_default_str();
  serve->add_option("--pod-cidr", config.pod_cidr, "IPv4 block for pod addresses")
      ->capture_default_str();
  serve->add_option("--pod-egress", config.pod_egress, "sandbox egress: managed or deny-all")
      ->capture_default_str();
  serve
      ->add_option("--pod-dns-nameservers", config.pod_dns_nameservers,
                   "nameservers of upstream's secure DNS default (comma list of IPv4)")
      ->capture_default_str();
  serve->add_option("--pod-dns-resolver", config.pod_dns_resolver,
                    "servers the node resolves egress dnsName peers with (\"\": the host's)");
  serve->add_flag("--simulate", config.simulate,
                  "scale tests only: sandboxes are records that are Ready at once and run nothing "
                  "(docs/scale.md); never beside real sandboxes");
  std::string roles = "apiserver,controller,node,router";
  serve
      ->add_option("--roles", roles,
                   "what this process runs, a comma list of apiserver, scheduler, controller, "
                   "node, router (without controller, run `asbd controller` processes against "
                   "it; without node, `asbd node` processes and the scheduler role)")
      ->capture_default_str();

  asb::asbd::ControllerConfig ctl;
  CLI::App* controller = app.add_subcommand(
      "controller",
      "run the controllers alone, over the Kubernetes API of a kube-apiserver or of `asbd serve "
      "--roles apiserver,...`, with leader election on a Lease");
  controller->add_option("--kubeconfig", ctl.kubeconfig,
                         "kubeconfig file (default: the in-cluster service account)");
  controller->add_option("--listen", ctl.listen, "host:port of /healthz, /readyz and /metrics")
      ->capture_default_str();
  controller->add_option("--leader-elect", ctl.leader_elect, "elect a leader on a Lease")
      ->capture_default_str();
  controller->add_option(
      "--leader-election-namespace", ctl.lease_namespace,
      "namespace of the Lease (default: the service account's, else kube-system)");
  controller->add_option("--identity", ctl.identity,
                         "this replica's name on the Lease (default hostname_pid_random)");
  double lease_s = 15, renew_s = 10, retry_s = 2;
  controller->add_option("--leader-elect-lease-duration", lease_s, "seconds")
      ->capture_default_str();
  controller->add_option("--leader-elect-renew-deadline", renew_s, "seconds")
      ->capture_default_str();
  controller->add_option("--leader-elect-retry-period", retry_s, "seconds")->capture_default_str();
  controller->add_option("--workers", ctl.workers, "reconcile workers per kind")
      ->capture_default_str();
  controller->add_option("--kube-api-qps", ctl.qps, "client-side request rate limit (0: none)")
      ->capture_default_str();
  controller->add_option("--kube-api-burst", ctl.burst, "client-side burst")->capture_default_str();

  asb::asbd::NodeRoleConfig node_cfg;
  node_cfg.daemon.state_dir = asb::client::DefaultStateDir() + "-node";
  CLI::App* node = app.add_subcommand(
      "node",
      "run the node agent alone (a kubelet for asbd's API server): register a Node, run the pods "
      "bound to it, serve their exec/attach/port-forward streams");
  node->add_option("--kubeconfig", node_cfg.kubeconfig,
                   "kubeconfig file (default: the in-cluster service account)");
  node->add_option("--node-name", node_cfg.daemon.node_name, "name of the Node to register")
      ->capture_default_str();
  node->add_option("--state-dir", node_cfg.daemon.state_dir, "state directory (one per node)")
      ->capture_default_str();
  node->add_option("--listen", node_cfg.listen,
                   "host:port of the stream port the API server dials (port 0: a free one)")
      ->capture_default_str();
  node->add_option("--token-file", node_cfg.token_file,
                   "token the API server's stream requests carry (default: the kubeconfig's)");
  node->add_option("--gvisor", node_cfg.daemon.gvisor, "gVisor runtime class: auto, on, off")
      ->capture_default_str();
  node->add_option("--runsc", node_cfg.daemon.runsc_path, "runsc binary")->capture_default_str();
  node->add_option("--default-runtime-class", node_cfg.daemon.default_runtime_class,
                   "runtime for pods without runtimeClassName: native or gvisor")
      ->capture_default_str();
  node->add_option("--pod-network", node_cfg.daemon.pod_network, "bridge or none")
      ->capture_default_str();
  node->add_option("--pod-cidr", node_cfg.daemon.pod_cidr, "IPv4 block for pod addresses")
      ->capture_default_str();
  node->add_option("--pod-bridge", node_cfg.daemon.pod_bridge, "host bridge of the pods")
      ->capture_default_str();
  node->add_option("--pod-nft-table", node_cfg.daemon.pod_nft_table,
                   "nftables table (family ip) of the pod network")
      ->capture_default_str();
  node->add_option("--pod-egress", node_cfg.daemon.pod_egress, "managed or deny-all")
      ->capture_default_str();
  node->add_option("--pod-dns-nameservers", node_cfg.daemon.pod_dns_nameservers,
                   "nameservers of upstream's secure DNS default (comma list of IPv4)")
      ->capture_default_str();
  node->add_option("--pod-dns-resolver", node_cfg.daemon.pod_dns_resolver,
                   "servers the node resolves egress dnsName peers with");
  node->add_option("--cgroup-parent", node_cfg.daemon.cgroup_parent,
                   "cgroup below which sandboxes get theirs")
      ->capture_default_str();
  node->add_flag("--simulate", node_cfg.daemon.simulate,
                 "scale tests only: sandboxes are records that are Ready at once and run nothing "
                 "(docs/scale.md); never beside real sandboxes");

  asb::asbd::RouterConfig router_cfg;
  CLI::App* router = app.add_subcommand(
      "router",
      "run the router alone: X-Sandbox-ID resolved from a watch of Sandboxes to their pod IPs");
  router->add_option("--kubeconfig", router_cfg.kubeconfig,
                     "kubeconfig file (default: the in-cluster service account)");
  router->add_option("--listen", router_cfg.listen, "host:port to serve")->capture_default_str();
  router->add_option("--token-file", router_cfg.token_file,
                     "token clients must send (default: the kubeconfig's bearer token)");

  std::unique_ptr<asb::asbd::DeployCommands> deploy = asb::asbd::AddDeployCommands(app);

  // Precedence: defaults < --config file < flags. Parse once to find --config, load the file,
  // then parse again so flags win.
  CLI11_PARSE(app, argc, argv);
  if (!config_file.empty()) {
    asb::asbd::DaemonConfig from_file = config;
    if (auto loaded = asb::asbd::LoadConfigFile(config_file, &from_file); !loaded) {
      fprintf(stderr, "asbd: bad config: %s\n", loaded.error().message.c_str());
      return 2;
    }
    config = from_file;
    CLI11_PARSE(app, argc, argv);
  }
  if (int rc = asb::asbd::RunDeployCommand(*deploy); rc >= 0) return rc;
  if (auto valid = asb::asbd::Validate(config); !valid) {
    fprintf(stderr, "asbd: bad config: %s\n", valid.error().message.c_str());
    return 2;
  }
  if (print_config) {
    printf("%s\n", asb::asbd::ConfigToJson(config).dump(2).c_str());
    return 0;
  }
  asb::log::Level parsed;
  if (!asb::log::ParseLevel(level, &parsed)) {
    fprintf(stderr, "asbd: bad --log-level \"%s\"\n", level.c_str());
    return 2;
  }
  asb::log::SetLevel(parsed);
  if (node->parsed()) return asb::asbd::RunNode(node_cfg);
  if (router->parsed()) return asb::asbd::RunRouter(router_cfg);
  if (controller->parsed()) {
    auto ms = [](double s) { return std::chrono::milliseconds(static_cast<int64_t>(s * 1000)); };
    ctl.lease_duration = ms(lease_s);
    ctl.renew_deadline = ms(renew_s);
    ctl.retry_period = ms(retry_s);
    if (!(ctl.retry_period.count() > 0 && ctl.retry_period < ctl.renew_deadline &&
          ctl.renew_deadline < ctl.lease_duration && lease_s == static_cast<int64_t>(lease_s))) {
      fprintf(stderr,
              "asbd controller: want 0 < retry period < renew deadline < lease duration (whole "
              "seconds)\n");
      return 2;
    }
    return asb::asbd::RunController(ctl);
  }
  auto parsed_roles = asb::asbd::ParseRoles(roles);
  if (!parsed_roles) {
    fprintf(stderr, "asbd: %s\n", parsed_roles.error().message.c_str());
    return 2;
  }
  if (serve->parsed()) return asb::asbd::RunServe(config, *parsed_roles);
  return 2;
}
