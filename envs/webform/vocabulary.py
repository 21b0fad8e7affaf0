"""The words forms are made of: field concepts, their label synonyms, and value pools.

A *concept* is one kind of question a real form asks ("Last name", "Meal preference").
Each has a canonical label, synonyms an instruction may use instead (the phrasing lever
of the TaskSpace: QWeb-style instructions name fields by key, not always by the label the
page shows), the HTML kind of its input, and where its values come from.

Value pools deliberately contain HTML special characters, non-Latin scripts, astral
emoji and hostile strings (``</script><img onerror=...>``): rendering and browser replay
must carry them unchanged (issue 6, "bad input"). No pool holds newlines or leading /
trailing whitespace, because an ``<input>`` strips newlines and Playwright's ``fill``
trims number and date values, which would make the simulator and the browser disagree
for reasons unrelated to the agent. The exception is the textarea pools of
:data:`WIDGET_CONCEPTS` (``widgets=True`` only): their values hold inner newlines, which a
textarea keeps and a one-line input turns into spaces (``dom.typed_value``).

Everything here is an immutable tuple: no module-level mutable state.
"""

from __future__ import annotations

from dataclasses import dataclass

FIELD_KINDS: tuple[str, ...] = ("text", "number", "date", "select", "radio", "checkbox")
NON_TEXT_KINDS: tuple[str, ...] = FIELD_KINDS[1:]
DISTRACTOR_KINDS: tuple[str, ...] = ("link", "button", "text", "checkbox")

# Strings that must survive HTML rendering and browser typing unchanged.
HOSTILE_TEXT: tuple[str, ...] = (
    '</script><img src=x onerror="window.__pwned=1">',
    '"><svg onload=window.__pwned=1>',
    "O'Brien & Sons <Ltd>",
    "&amp; &lt;not an entity&gt;",
    "a&b<c>d\"e'f",
    "{{7*7}} ${7*7} <!-- x -->",
    "Zoë Ångström",
    "北京市 朝阳区",
    "Ærøskøbing",
    "naïve café",
    "🙂 smile 🚀",
    "José Núñez",
    "Ελένη Παπαδοπούλου",
    "Дмитрий",
    "עברית שלום",
    "back\\slash /path",
)


@dataclass(frozen=True)
class Concept:
    """One field concept. ``pattern`` is a regex in the portable subset of Python ``re``
    and JavaScript ``RegExp`` (ASCII classes only), used when a validation rule is drawn.
    It becomes the HTML ``pattern`` attribute, which Chromium compiles with the ``v`` flag:
    there a literal ``-`` in a class must be escaped (``[a-z\\-]``), or the pattern fails to
    compile and the browser silently drops the rule."""

    label: str
    synonyms: tuple[str, ...]
    kind: str
    values: tuple[str, ...] = ()
    pattern: str = ""
    low: int = 0
    high: int = 0


CONCEPTS: tuple[Concept, ...] = (
    # text
    Concept("First name", ("Given name", "Forename", "First"), "text",
            ("Alice", "Bruno", "Chloé", "Dmitri", "Eun-ji", "Farah", "Gustavo", "Hiro", "Ingrid", "Jamal")),
    Concept("Last name", ("Surname", "Family name", "Last"), "text",
            ("Smith", "Okafor", "Nguyen", "García", "Müller", "O'Neil", "Kowalski", "Tanaka", "Singh", "Rossi")),
    Concept("Email", ("E-mail address", "Email address", "Mail"), "text",
            ("alice@example.com", "b.okafor@mail.test", "zoe+news@site.org", "h.tanaka@corp.jp",
             "jamal_99@inbox.net", "ingrid@fjord.no"), pattern="^[^@]+@[^@]+$"),
    Concept("City", ("Town", "City name", "Locality"), "text",
            ("Paris", "Lagos", "Hanoi", "Zürich", "São Paulo", "Kraków", "Osaka", "Toronto", "Reykjavík")),
    Concept("Company", ("Organization", "Employer", "Company name"), "text",
            ("Acme Corp", "Globex", "Initech", "Umbrella & Co", "Stark Industries", "Wayne Enterprises")),
    Concept("Username", ("User name", "Login", "Handle"), "text",
            ("alice01", "bruno_x", "chloe.k", "dm1tri", "farah-h", "gus_tavo"), pattern=r"^[A-Za-z0-9_.\-]+$"),
    Concept("Phone", ("Telephone", "Phone number", "Mobile"), "text",
            ("+33 1 23 45 67 89", "+1-555-0100", "020 7946 0958", "+81 3-1234-5678", "555 0199"),
            pattern=r"^[0-9+ \-]+$"),
    Concept("Zip code", ("Postal code", "Postcode", "ZIP"), "text",
            ("75001", "10115", "94103", "00184", "60601", "20001"), pattern="^[0-9]{5}$"),
    Concept("Street", ("Street address", "Address line", "Address"), "text",
            ("12 Baker Street", "5 Rue de Rivoli", "1600 Amphitheatre Pkwy", "221B Baker St", "10 Downing St")),
    Concept("Comment", ("Message", "Notes", "Remarks"), "text", HOSTILE_TEXT),
    # number
    Concept("Age", ("Your age", "Age in years", "Years old"), "number", low=18, high=99),
    Concept("Quantity", ("Amount", "Number of items", "Qty"), "number", low=1, high=20),
    Concept("Guests", ("Number of guests", "Party size", "Guest count"), "number", low=1, high=12),
    Concept("Nights", ("Number of nights", "Length of stay", "Stay nights"), "number", low=1, high=30),
    Concept("Year of birth", ("Birth year", "Born in", "Year born"), "number", low=1930, high=2006),
    # date
    Concept("Date of birth", ("Birthday", "Birth date", "DOB"), "date"),
    Concept("Check-in date", ("Arrival date", "Arrival", "Check in"), "date"),
    Concept("Check-out date", ("Departure date", "Departure", "Check out"), "date"),
    Concept("Start date", ("Begins on", "From date", "Start"), "date"),
    Concept("Delivery date", ("Ship date", "Deliver on", "Delivery day"), "date"),
    # select
    Concept("Country", ("Nation", "Country of residence", "Homeland"), "select",
            ("France", "Japan", "Brazil", "Canada", "Kenya", "Côte d'Ivoire", "Türkiye")),
    Concept("Title", ("Salutation", "Form of address", "Honorific"), "select", ("Mr", "Ms", "Mx", "Dr", "Prof")),
    Concept("Seat class", ("Cabin", "Travel class", "Class"), "select", ("Economy", "Premium", "Business", "First")),
    Concept("Size", ("Shirt size", "Clothing size", "Fit"), "select", ("XS", "S", "M", "L", "XL")),
    Concept("Payment method", ("Pay with", "Payment type", "Payment"), "select",
            ("Card", "PayPal", "Bank transfer", "Cash & cheque", "Crypto")),
    # radio
    Concept("Meal", ("Meal preference", "Food choice", "Menu"), "radio",
            ("Vegan", "Vegetarian", "Halal", "Kosher", "Regular")),
    Concept("Shipping", ("Delivery speed", "Shipping method", "Postage"), "radio",
            ("Standard", "Express", "Overnight", "Pickup")),
    Concept("Contact by", ("Preferred contact", "Contact method", "Reach me by"), "radio",
            ("Email", "Phone", "SMS", "Post")),
    Concept("Plan", ("Subscription plan", "Tier", "Package"), "radio", ("Free", "Basic", "Pro", "Enterprise")),
    Concept("Color", ("Colour", "Preferred color", "Shade"), "radio", ("Red", "Green", "Blue", "Black", "White")),
    # checkbox
    Concept("Subscribe to newsletter", ("Newsletter", "Email updates", "Subscribe"), "checkbox"),
    Concept("Accept terms", ("I agree to the terms", "Terms and conditions", "Agree to terms"), "checkbox"),
    Concept("Remember me", ("Stay signed in", "Keep me logged in", "Remember login"), "checkbox"),
    Concept("Gift wrap", ("Wrap as gift", "Gift wrapping", "Gift"), "checkbox"),
    Concept("Express delivery", ("Fast delivery", "Rush order", "Express"), "checkbox"),
)

# Labels of distractor inputs: never a field concept, so never instructed.
DISTRACTOR_INPUT_LABELS: tuple[str, ...] = (
    "Promo code", "Referral", "Middle name", "Fax", "Website", "Department", "Job title", "Coupon",
    "How did you hear about us", "Secondary email",
)
DISTRACTOR_CHECKBOX_LABELS: tuple[str, ...] = (
    "Show password", "Save card", "Dark mode", "Share my data", "Add insurance", "Notify partners",
)
DISTRACTOR_LINK_LABELS: tuple[str, ...] = (
    "Privacy policy", "Terms of use", "Help", "Forgot password?", "Contact us", "About", "FAQ", "Sitemap",
)
DISTRACTOR_BUTTON_LABELS: tuple[str, ...] = (
    "Cancel", "Save draft", "Print", "Help", "Chat with us", "Clear", "Preview", "Share",
)

# What the navigation buttons say: real forms rarely all say "Submit" (MiniWoB++'s
# login-user says "Login"); the button's kind, not its word, makes it the submit button.
SUBMIT_LABELS: tuple[str, ...] = ("Submit", "Send", "Done", "Confirm", "Register", "Sign up", "Log in", "Login",
                                  "Book now", "Place order", "Apply", "OK")
NEXT_LABELS: tuple[str, ...] = ("Next", "Continue", "Next step", "Proceed")

YES, NO = "yes", "no"

MAX_OPTIONS = max(len(c.values) for c in CONCEPTS if c.kind in ("select", "radio"))


def concepts_of_kind(kind: str) -> tuple[Concept, ...]:
    return tuple(c for c in CONCEPTS if c.kind == kind)


# -- widgets (issue 19): only the ``widgets=True`` env draws these ---------------------------
# Kept out of CONCEPTS on purpose: the token table of tokens.py numbers the words of the
# tuples above, and adding words there would renumber them (the default env's observation
# must not change). Widget words are hashed like any unknown word.
WIDGET_KINDS: tuple[str, ...] = ("password", "textarea", "autocomplete", "datepicker")

# A slice of MiniWoB++'s ui_utils.COUNTRIES (the source list of its use-autocomplete task),
# chosen so that many items share their first two letters: a typed prefix shows several
# suggestions and the agent has to pick the instructed one.
AUTOCOMPLETE_COUNTRIES: tuple[str, ...] = (
    "Cambodia", "Cameroon", "Canada", "Cape Verde", "Chad", "Chile", "China", "Colombia", "Comoros", "Congo",
    "Costa Rica", "Croatia", "Cuba", "Cyprus", "Malawi", "Malaysia", "Maldives", "Mali", "Malta", "Mauritius",
    "Mexico", "Moldova", "Monaco", "Mongolia", "Morocco", "Namibia", "Nauru", "Nepal", "Netherlands",
    "New Zealand", "Nicaragua", "Niger", "Nigeria", "Norway", "Panama", "Paraguay", "Peru", "Poland", "Portugal",
)
AUTOCOMPLETE_LANGUAGES: tuple[str, ...] = (
    "Java", "JavaScript", "Julia", "Python", "Perl", "PHP", "Pascal", "Prolog", "Rust", "Ruby", "Racket",
    "Scala", "Swift", "Scheme", "Smalltalk", "Haskell", "Hack", "Kotlin", "Go", "Groovy", "C", "C++", "Clojure",
    "COBOL", "Fortran", "Forth", "F#", "Lua", "Lisp", "Logo",
)

WIDGET_CONCEPTS: tuple[Concept, ...] = (
    # <input type=password>: MiniWoB++'s enter-password. Values hold HTML specials too.
    Concept("Password", ("Passcode", "Secret word", "Your password"), "password",
            ("hunter2", "Tr0ub4dor&3", "correct horse", "p@ss<w>rd", "s3cr3t!", "qwerty123", "éclair#9")),
    Concept("PIN", ("PIN code", "Security code", "Personal number"), "password",
            ("0000", "1234", "8080", "4711", "2468", "9999")),
    # <textarea>: multi-line values (typed into a one-line input, the newlines become spaces).
    Concept("Delivery instructions", ("Courier notes", "Notes for the driver", "Delivery notes"), "textarea",
            ("Leave at the door\nRing twice", "Call on arrival", "Back gate\nBeware of the dog",
             "Deliver after 6 pm\nNot on Sundays", "<b>Fragile</b> & heavy\nUse the lift")),
    Concept("Postal address", ("Mailing address", "Full address", "Send to"), "textarea",
            ("12 Baker Street\nLondon NW1 6XE", "5 Rue de Rivoli\n75001 Paris", "Hauptstraße 1\n10115 Berlin",
             "1-2-3 Ginza\nChūō, Tokyo", "221B Baker St\nLondon")),
    # autocomplete: the instruction names the item; a type action types its first
    # AUTOCOMPLETE_PREFIX characters; the agent clicks the suggestion (use-autocomplete).
    Concept("Destination", ("Travel to", "Destination country", "Going to"), "autocomplete", AUTOCOMPLETE_COUNTRIES),
    Concept("Language", ("Programming language", "Main language", "Coding language"), "autocomplete",
            AUTOCOMPLETE_LANGUAGES),
    # date picker: a read-only input and a calendar (MiniWoB++'s choose-date, jQuery UI).
    Concept("Appointment date", ("Appointment", "Visit date", "Booked for"), "datepicker"),
    Concept("Event date", ("Date of event", "Event day", "Happening on"), "datepicker"),
)

# Links that leave the page (ending the episode as a failure), review-flow buttons.
EXIT_LINK_LABELS: tuple[str, ...] = ("Log out", "Home", "Back to shop", "Our blog", "Careers", "Switch account")
BACK_LABELS: tuple[str, ...] = ("Back", "Previous", "Go back", "Edit")
CONFIRM_LABELS: tuple[str, ...] = ("Confirm", "Looks good", "Finish", "Place order")
REVIEW_LABELS: tuple[str, ...] = ("Review", "Check my answers", "Continue to review")
MONTH_NAMES: tuple[str, ...] = ("January", "February", "March", "April", "May", "June", "July", "August",
                                "September", "October", "November", "December")
