pub mod signatures;
