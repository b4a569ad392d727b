"""A person's devices: what a device is called when it does not say (a short summary of its User-Agent). Pure."""

from __future__ import annotations

import re

_BROWSERS = (  # the first that matches wins: Edge, Opera and Samsung's browser also say "Chrome"
    (re.compile(r"\bEdg(?:e|A|iOS)?/"), "Edge"),
    (re.compile(r"\bOPR/|\bOpera\b"), "Opera"),
    (re.compile(r"\bSamsungBrowser/"), "Samsung Internet"),
    (re.compile(r"\bFirefox/|\bFxiOS/"), "Firefox"),
    (re.compile(r"\bCriOS/|\bChrom(?:e|ium)/"), "Chrome"),
    (re.compile(r"\bVersion/[\d.]+.*\bSafari/"), "Safari"),
    (re.compile(r"^curl/"), "curl"),
    (re.compile(r"^python-httpx/|^python-requests/|^Python-urllib/"), "Python"),
)
_SYSTEMS = (
    (re.compile(r"\bAndroid\b"), "Android"),
    (re.compile(r"\biPad\b"), "iPad"),
    (re.compile(r"\biPhone\b|\biPod\b"), "iPhone"),
    (re.compile(r"\bCrOS\b"), "ChromeOS"),
    (re.compile(r"\bWindows\b"), "Windows"),
    (re.compile(r"\bMac OS X\b|\bMacintosh\b"), "macOS"),
    (re.compile(r"\bLinux\b|\bX11\b"), "Linux"),
)


def label_from_user_agent(user_agent: str | None) -> str:
    """ "Chrome on Android", "Safari on iPhone", "Firefox", or "A browser": never the raw header."""
    ua = (user_agent or "")[:512]
    browser = next((name for pattern, name in _BROWSERS if pattern.search(ua)), None)
    system = next((name for pattern, name in _SYSTEMS if pattern.search(ua)), None)
    if browser and system:
        return f"{browser} on {system}"
    if browser or system:
        return str(browser or system)
    return "A browser"
