// The program people run. Until the engine and server issues land it only says so.
Console.WriteLine("Ferry server: not yet. The protocol layer (Ferry.Protocols) is built; the engine and the server come next.");
return 0;
