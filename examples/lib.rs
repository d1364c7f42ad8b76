//! Runnable scenarios for `profiled`; see the `[[example]]` entries and the README.
//! This library is empty: Cargo needs one target besides the examples.
