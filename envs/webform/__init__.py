"""The web-form environment: generated forms, a pure-Python DOM simulator, HTML rendering
and a headless-Chromium replay that proves the simulator matches the browser.

Importing this package does not import Playwright; ``envs.webform.replay`` does.
"""

from envs.webform.form import Element, Form, generate_form, make_task_space
from envs.webform.webform_env import WebFormEnv

__all__ = ["Element", "Form", "WebFormEnv", "generate_form", "make_task_space"]
