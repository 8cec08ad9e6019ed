//! Managing online teaching (`src/teaching/`): platforms offered by
//! technology partners, reviewed by the Department, used by schools.

mod platforms;
