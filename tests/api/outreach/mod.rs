//! Communication (`src/outreach/`): the open letter, news and stories.

mod articles;
