"""The admin web page (docs/admin-ui.md), served by the engine under /admin on the API's port.

  session.py  signed, expiring session cookie and its CSRF token (the API token never reaches the browser)
  views.py    what the pages show, read from the engine: live calls with their state, health, last hour
  routes.py   login/logout, the pages, the JSON they fetch, the live-calls event stream, end call
  pages/      HTML shells; static/ our own CSS and JS (no CDN, no build step)
"""
