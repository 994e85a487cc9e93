"""Fixed vocabularies and distributions of the demo data: census divisions, industries, products, cadences."""

# US Census divisions (the demo's regions) and their states, in the Census Bureau's order.
DIVISIONS: list[tuple[str, str, tuple[str, ...]]] = [
    ("R1", "New England", ("CT", "ME", "MA", "NH", "RI", "VT")),
    ("R2", "Middle Atlantic", ("NJ", "NY", "PA")),
    ("R3", "East North Central", ("IL", "IN", "MI", "OH", "WI")),
    ("R4", "West North Central", ("IA", "KS", "MN", "MO", "NE", "ND", "SD")),
    ("R5", "South Atlantic", ("DE", "DC", "FL", "GA", "MD", "NC", "SC", "VA", "WV")),
    ("R6", "East South Central", ("AL", "KY", "MS", "TN")),
    ("R7", "West South Central", ("AR", "LA", "OK", "TX")),
    ("R8", "Mountain", ("AZ", "CO", "ID", "MT", "NV", "NM", "UT", "WY")),
    ("R9", "Pacific", ("AK", "CA", "HI", "OR", "WA")),
]
STATE_DIVISION: dict[str, str] = {state: code for code, _, states in DIVISIONS for state in states}
# The divisions the product overlay territory covers (the Census "West" region).
WEST_DIVISIONS = ("R8", "R9")

# Vertical industries and their share of accounts.
INDUSTRIES: list[tuple[str, float]] = [
    ("Manufacturing", 0.16),
    ("Retail", 0.14),
    ("Healthcare", 0.13),
    ("Professional Services", 0.12),
    ("Construction", 0.09),
    ("Financial Services", 0.08),
    ("Technology", 0.08),
    ("Logistics", 0.07),
    ("Hospitality", 0.07),
    ("Education", 0.06),
]
# Words that make company names sound like their industry.
INDUSTRY_NOUNS: dict[str, tuple[str, ...]] = {
    "Manufacturing": ("Manufacturing", "Industries", "Fabrication", "Machine Works", "Components", "Plastics"),
    "Retail": ("Outfitters", "Market", "Supply", "Goods", "Stores", "Trading"),
    "Healthcare": ("Health", "Medical Group", "Clinic", "Care Partners", "Dental", "Family Practice"),
    "Professional Services": ("Consulting", "Advisors", "Partners", "Associates", "Legal", "Accounting"),
    "Construction": ("Builders", "Construction", "Contracting", "Roofing", "Concrete", "Electric"),
    "Financial Services": ("Financial", "Capital", "Credit Union", "Insurance", "Wealth", "Bancorp"),
    "Technology": ("Technologies", "Software", "Systems", "Labs", "Digital", "Networks"),
    "Logistics": ("Logistics", "Freight", "Transport", "Distribution", "Warehousing", "Trucking"),
    "Hospitality": ("Hotels", "Restaurant Group", "Hospitality", "Catering", "Inn", "Resorts"),
    "Education": ("Academy", "Learning", "School District", "College", "Institute", "Education"),
}
LEGAL_SUFFIXES = ("Inc.", "LLC", "Co.", "Corp.", "Group", "", "", "")
STREET_SUFFIXES = ("St", "Ave", "Blvd", "Rd", "Dr", "Ln", "Way", "Pkwy", "Ct", "Pl")

PRODUCTS: list[tuple[str, float]] = [
    ("Core Platform", 0.85),
    ("Analytics", 0.35),
    ("Payments", 0.30),
    ("Field Service", 0.20),
    ("Support Plus", 0.25),
]
OVERLAY_PRODUCT = "Analytics"

# Segment shares (skewed to small business) and, per segment, employees as lognormal (median, sigma, min, max).
SEGMENTS: list[tuple[str, float, float, float, int, int]] = [
    ("small_business", 0.72, 18.0, 0.9, 1, 99),
    ("mid_market", 0.21, 280.0, 0.6, 100, 999),
    ("enterprise", 0.07, 4000.0, 0.9, 1000, 250_000),
]

STATUSES: list[tuple[str, float]] = [("customer", 0.55), ("prospect", 0.40), ("inactive", 0.05)]

# Tier cut-offs by potential rank: the top 5 % are A, the next 15 % B, the next 30 % C, the rest D.
TIER_SHARES: list[tuple[str, float]] = [("A", 0.05), ("B", 0.15), ("C", 0.30), ("D", 0.50)]
# Visit cadence per tier: (visits a year, minutes per visit), used only for tiers without a VisitCadence row
# (migration reps.0002 seeds the same values); workload adds TRAVEL_MINUTES to every visit.
CADENCES: dict[str, tuple[int, int]] = {"A": (26, 60), "B": (12, 60), "C": (4, 45), "D": (1, 30)}
TRAVEL_MINUTES = 30

# Territory types and their priorities (lower wins).
TERRITORY_TYPES: list[tuple[str, str, int, str]] = [
    ("Named accounts", "named", 1, "Hand-picked strategic accounts, owned by a strategic account executive."),
    ("Geography", "geography", 10, "Regions, districts and territories built from counties."),
    ("Customer segment", "segment", 20, "Accounts grouped by company size."),
    ("Product line", "product", 30, "Specialists who overlay the geography for one product line."),
    ("Vertical industry", "industry", 40, "Accounts grouped by industry."),
]

# Leaf territory colours: distinct, readable on a light base map; adjacent leaves get different ones.
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22",
           "#7f7f7f")

DEMO_EMAIL_DOMAIN = "demo.example.com"
DEMO_PASSWORD = "demo-password"
SCENARIO_NAME = "2026 alignment"
COUNTY_LAYER_NAME = "US counties"
