// HTTP surface of asb-agent, reproducing the upstream python-runtime-sandbox contract
// (docs: reference §4.1): GET /, POST /execute, POST /upload, GET /download/{path},
// GET /list/{path}, GET /exists/{path}. Handlers take and return http::Request/Response only,
// so tests call them without sockets; the route table is kRoutes in handlers.cc.
#pragma once

#include "agent/exec_service.h"
#include "agent/file_service.h"
#include "http/message.h"

namespace asb::agent {

// The services handlers call. Not owned; must outlive the handler.
struct AgentServices {
  const ExecService* exec = nullptr;
  const FileService* files = nullptr;
};

// Dispatches one request through the route table. Unknown paths: 404 {"detail":"Not Found"};
// known path, wrong method: 405 {"detail":"Method Not Allowed"} (FastAPI's bodies). Never
// throws for bad input. Thread-safe if the services are.
http::Response HandleAgentRequest(const AgentServices& services, const http::Request& req);

// HandleAgentRequest plus one log line per request (method, path, status, ms) on stderr.
http::Handler MakeAgentHandler(AgentServices services);

}  // namespace asb::agent
