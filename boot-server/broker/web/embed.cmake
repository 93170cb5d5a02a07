# Turns web/dashboard.html into a C++ source with the page as a raw string (no runtime file).
file(READ ${INPUT} content)
file(WRITE ${OUTPUT} "// Generated from web/dashboard.html by web/embed.cmake; edit the HTML.\n#include <string>\nnamespace labdesk::broker {\nconst std::string& dashboard_html() {\n  static const std::string page = R\"labdesk(${content})labdesk\";\n  return page;\n}\n}  // namespace labdesk::broker\n")
