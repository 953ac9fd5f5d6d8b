//! The generator's fixed tables: markets, currencies, teams, seasons,
//! subjects, comments, plans and hours.

use chrono_tz::Tz;
use rust_decimal::Decimal;

use crate::domain::Currency;

pub(super) struct Market {
    pub(super) country: &'static str,
    pub(super) zone: Tz,
    pub(super) currency: Currency,
    pub(super) locale: &'static str,
    /// Phone prefix (with `+`) and the number of random digits after it.
    pub(super) phone: (&'static str, u32),
    /// Index into the teams.
    pub(super) team: usize,
    /// Relative weight among new customers.
    pub(super) weight: u32,
    pub(super) given: [&'static str; 8],
    pub(super) family: [&'static str; 8],
    pub(super) company_suffix: &'static str,
}

pub(super) const MARKETS: [Market; 7] = [
    Market {
        country: "DE",
        zone: Tz::Europe__Berlin,
        currency: Currency::EUR,
        locale: "de-DE",
        phone: ("+4915", 9),
        team: 0,
        weight: 18,
        given: [
            "Lena", "Jonas", "Anna", "Lukas", "Marie", "Felix", "Sophie", "Paul",
        ],
        family: [
            "Schmidt", "Fischer", "Weber", "Wagner", "Becker", "Hoffmann", "Koch", "Richter",
        ],
        company_suffix: "GmbH",
    },
    Market {
        country: "FR",
        zone: Tz::Europe__Paris,
        currency: Currency::EUR,
        locale: "fr-FR",
        phone: ("+336", 8),
        team: 0,
        weight: 12,
        given: [
            "Camille", "Louis", "Chloe", "Hugo", "Manon", "Jules", "Emma", "Leo",
        ],
        family: [
            "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand",
        ],
        company_suffix: "SARL",
    },
    Market {
        country: "GB",
        zone: Tz::Europe__London,
        currency: Currency::GBP,
        locale: "en-GB",
        phone: ("+447", 9),
        team: 0,
        weight: 15,
        given: [
            "Oliver", "Amelia", "Harry", "Isla", "George", "Ava", "Jack", "Emily",
        ],
        family: [
            "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Evans", "Walker",
        ],
        company_suffix: "Ltd",
    },
    Market {
        country: "US",
        zone: Tz::America__New_York,
        currency: Currency::USD,
        locale: "en-US",
        phone: ("+1212", 7),
        team: 1,
        weight: 17,
        given: [
            "James", "Olivia", "Noah", "Emma", "Liam", "Mia", "Ethan", "Harper",
        ],
        family: [
            "Johnson",
            "Miller",
            "Davis",
            "Garcia",
            "Rodriguez",
            "Martinez",
            "Anderson",
            "Lee",
        ],
        company_suffix: "Inc.",
    },
    Market {
        country: "US",
        zone: Tz::America__Los_Angeles,
        currency: Currency::USD,
        locale: "en-US",
        phone: ("+1310", 7),
        team: 1,
        weight: 13,
        given: [
            "Mason", "Sofia", "Logan", "Avery", "Lucas", "Ella", "Elijah", "Chloe",
        ],
        family: [
            "Hernandez",
            "Lopez",
            "Gonzalez",
            "Wilson",
            "Thomas",
            "Moore",
            "Jackson",
            "White",
        ],
        company_suffix: "LLC",
    },
    Market {
        country: "JP",
        zone: Tz::Asia__Tokyo,
        currency: Currency::JPY,
        locale: "ja-JP",
        phone: ("+8190", 8),
        team: 2,
        weight: 13,
        given: ["Haruto", "Yui", "Sota", "Hina", "Ren", "Aoi", "Yuto", "Mei"],
        family: [
            "Sato",
            "Suzuki",
            "Takahashi",
            "Tanaka",
            "Watanabe",
            "Ito",
            "Yamamoto",
            "Nakamura",
        ],
        company_suffix: "K.K.",
    },
    Market {
        country: "AU",
        zone: Tz::Australia__Sydney,
        currency: Currency::AUD,
        locale: "en-AU",
        phone: ("+614", 8),
        team: 2,
        weight: 12,
        given: [
            "Charlotte",
            "William",
            "Ruby",
            "Henry",
            "Zoe",
            "Lucas",
            "Isabella",
            "Cooper",
        ],
        family: [
            "Nguyen", "Kelly", "Ryan", "Walsh", "Murphy", "Clarke", "Harris", "King",
        ],
        company_suffix: "Pty Ltd",
    },
];

/// Units of each currency per euro (the generator's fixed rates).
pub(super) const PER_EUR: [(Currency, i64, u32); 5] = [
    (Currency::EUR, 1, 0),
    (Currency::USD, 108, 2),
    (Currency::GBP, 85, 2),
    (Currency::JPY, 162, 0),
    (Currency::AUD, 165, 2),
];

pub(super) fn per_eur(c: Currency) -> Option<Decimal> {
    PER_EUR
        .iter()
        .find(|(x, _, _)| *x == c)
        .map(|&(_, m, s)| Decimal::new(m, s))
}

/// Team name, zone, opening and closing hour, Saturday hours.
pub(super) const TEAMS: [(&str, Tz, u32, u32, bool); 3] = [
    ("Support EMEA", Tz::Europe__Berlin, 8, 18, false),
    ("Support Americas", Tz::America__New_York, 8, 20, true),
    ("Support APAC", Tz::Australia__Sydney, 9, 17, false),
];

/// Seasonal weights of the months January-December (before scaling by
/// [`BusinessSpec::seasonality`]).
pub(super) const SEASON: [f64; 12] = [
    0.85, 0.8, 0.9, 0.95, 1.0, 0.95, 0.9, 0.9, 1.0, 1.05, 1.5, 1.7,
];

pub(super) const SUPPORT_SUBJECTS: [&str; 8] = [
    "Where is my order?",
    "Please send a copy of my invoice",
    "Cannot log in to my account",
    "Change of delivery address",
    "Product stopped working",
    "Question about the warranty",
    "How do I return an item?",
    "Discount code not accepted",
];

pub(super) const COMPLAINT_SUBJECTS: [&str; 5] = [
    "Complaint: item arrived damaged",
    "Complaint: charged twice",
    "Complaint: delivery three weeks late",
    "Complaint: nobody answers my e-mails",
    "Complaint: wrong item delivered",
];

pub(super) const GOOD_COMMENTS: [&str; 6] = [
    "Fast delivery and great quality.",
    "Very helpful support, thank you!",
    "Everything worked as expected.",
    "Love the product, will buy again.",
    "Solved in one call, impressive.",
    "Friendly and competent team.",
];

pub(super) const MIXED_COMMENTS: [&str; 4] = [
    "Good product, but delivery took a while.",
    "OK overall, the website is a bit confusing.",
    "Fine, nothing special.",
    "Price is a little high for what you get.",
];

pub(super) const BAD_COMMENTS: [&str; 6] = [
    "Took far too long to get an answer.",
    "I had to explain my problem three times.",
    "The item broke after a week.",
    "Refund still not received.",
    "Nobody called back as promised.",
    "Delivery was late and nobody told me.",
];

pub(super) const PLANS: [(&str, i64); 3] = [("basic", 29), ("pro", 99), ("team", 249)];

/// Relative weight of each local hour (0-23) for customers' own actions:
/// little at night, a peak in the evening.
pub(super) const HOURS: [u32; 24] = [
    1, 1, 0, 0, 0, 0, 1, 3, 5, 6, 6, 6, 7, 6, 6, 6, 6, 7, 8, 9, 9, 8, 5, 2,
];
