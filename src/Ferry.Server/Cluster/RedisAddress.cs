using StackExchange.Redis;

namespace Ferry.Server.Cluster;

/// <summary>The --cluster value: a redis:// URI or StackExchange.Redis's own configuration string.</summary>
public static class RedisAddress
{
    /// <summary>
    /// StackExchange.Redis configuration for <paramref name="value"/>: <c>redis://[user:password@]host[:port][/db]</c>
    /// (<c>rediss://</c> for TLS) is translated, anything else is read as StackExchange.Redis's form (<c>host:port,password=…</c>).
    /// </summary>
    /// <exception cref="ArgumentException">Neither form, or no host.</exception>
    public static ConfigurationOptions ToConfiguration(string value)
    {
        ConfigurationOptions options;
        if (value.StartsWith("redis://", StringComparison.OrdinalIgnoreCase) || value.StartsWith("rediss://", StringComparison.OrdinalIgnoreCase))
        {
            if (!Uri.TryCreate(value, UriKind.Absolute, out var uri) || uri.Host.Length == 0)
                throw new ArgumentException($"invalid --cluster '{value}': expected redis://host:port");
            options = new ConfigurationOptions { Ssl = uri.Scheme.Equals("rediss", StringComparison.OrdinalIgnoreCase) };
            options.EndPoints.Add(uri.Host, uri.IsDefaultPort ? 6379 : uri.Port);
            if (uri.UserInfo.Length > 0)
            {
                var parts = uri.UserInfo.Split(':', 2);
                if (parts.Length == 2)
                {
                    if (parts[0].Length > 0) options.User = Uri.UnescapeDataString(parts[0]);
                    options.Password = Uri.UnescapeDataString(parts[1]);
                }
                else options.Password = Uri.UnescapeDataString(parts[0]);
            }
            var path = uri.AbsolutePath.Trim('/');
            if (path.Length > 0)
                options.DefaultDatabase = int.TryParse(path, out var db) && db >= 0 ? db : throw new ArgumentException($"invalid --cluster '{value}': the path is a database number");
        }
        else
        {
            try
            {
                options = ConfigurationOptions.Parse(value);
            }
            catch (Exception e) when (e is ArgumentException or FormatException)
            {
                throw new ArgumentException($"invalid --cluster '{value}': {e.Message}");
            }
            if (options.EndPoints.Count == 0) throw new ArgumentException($"invalid --cluster '{value}': no host");
        }
        return options;
    }
}
