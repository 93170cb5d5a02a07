// labdesk-viewer's event loop: wires the session machine to SDL, RFB and the boot-server API.
#pragma once

namespace labdesk::viewer {

// The whole program behind main(): returns the exit code.
int run_viewer(int argc, char** argv);

}  // namespace labdesk::viewer
